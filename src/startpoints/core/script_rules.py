"""Each manifest key's checks as cyber-dojo's create-script checkers step through them
(from_script/check_*.rb): their titles, their value forms, which steps stop the rest. The walk
over sources and manifests that calls them is core/script_checks.py."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from startpoints.core.manifest import Kind
from startpoints.core.rubyish import equal, inspect, is_integer, makes_regexp, to_s, truthy

_PORTABLE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-")
_MAX_VISIBLE = 25 * 1024


class Rules:
    """The checks, printing each fault in show_error.rb's form and collecting its code."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.lines: list[str] = []
        self.codes: list[int] = []
        self.url = ""
        self.file = ""

    def _image_name(self, m: dict[str, Any], code: int) -> None:
        value = m.get("image_name")
        if not truthy(value):
            return
        if not isinstance(value, str):
            self._fault("image_name is not a String", f'"image_name": {to_s(value)}', code)
        elif not _well_formed_image_name(value):
            self._fault("image_name is malformed", f'"image_name": "{value}"', code)

    def _display_name(self, m: dict[str, Any], code: int) -> None:
        value = m.get("display_name")
        if not truthy(value):
            return
        if not isinstance(value, str):
            self._fault("display_name is not a String", f'"display_name": {to_s(value)}', code)
        elif not value:
            self._fault("display_name cannot be empty String", '"display_name": ""', code)

    def _visible_filenames(self, m: dict[str, Any], folder: Path, code: int) -> None:
        names = m.get("visible_filenames")
        if names is None:
            return
        shown = f'"visible_filenames": {to_s(names)}'
        if not isinstance(names, list):
            self._fault("visible_filenames is not an Array", shown, code)
            return
        if not names:
            self._fault("visible_filenames cannot be empty", shown, code)
            return
        for i, name in enumerate(names):
            self._visible_filename(i, name, folder, shown, code)
        if self.kind == "languages" and not _includes(names, "cyber-dojo.sh"):
            title = 'visible_filenames does not include "cyber-dojo.sh"'
            self._fault(title, shown, code)
            return
        if self.kind == "exercises" and _includes(names, "cyber-dojo.sh"):
            self._fault('visible_filenames cannot include "cyber-dojo.sh"', shown, code)
            return
        self._duplicates("visible_filenames", names, shown, code)

    def _visible_filename(self, i: int, name: Any, folder: Path, shown: str, code: int) -> None:
        at = f"visible_filenames[{i}]"
        if not isinstance(name, str):
            self._fault(f"{at}={to_s(name)} is not a String", shown, code)
            return
        if not name:
            self._fault(f"{at}='' cannot be empty String", shown, code)
            return
        portable = True
        for ch in name:
            if ch not in _PORTABLE:
                self._fault(f"{at}=\"{name}\" has non-portable character '{ch}'", shown, code)
                portable = False
        if name.startswith("-"):
            self._fault(f"{at}=\"{name}\" has non-portable leading character '-'", shown, code)
            portable = False
        if not portable:
            return
        path = os.path.join(folder, name)  # as File.exist?(dir + '/' + name) reads it
        if not os.path.exists(path):
            self._fault(f'{at}="{name}" does not exist', shown, code)
        elif os.path.getsize(path) > _MAX_VISIBLE:
            self._fault(f'{at}="{name}" is too large (>25K)', shown, code)

    def _filename_extension(self, m: dict[str, Any], code: int) -> None:
        value = m.get("filename_extension")
        if not truthy(value):
            return
        extensions = [value] if isinstance(value, str) else value
        shown = f'"filename_extension": {to_s(extensions)}'
        if not (
            isinstance(extensions, list)
            and extensions
            and all(isinstance(e, str) for e in extensions)
        ):
            self._fault("filename_extension must be a String or Array of Strings", shown, code)
            return
        empty = [i for i, e in enumerate(extensions) if e == ""]
        for i in empty:
            self._fault(f"filename_extension[{i}]='' cannot be empty String", shown, code)
        if empty:
            return
        for i, e in enumerate(extensions):
            if not e.startswith("."):
                self._fault(f'filename_extension[{i}]="{e}" must start with a dot', shown, code)
        for i, e in enumerate(extensions):
            if e == ".":
                title = f'filename_extension[{i}]="{e}" must be more than just a dot'
                self._fault(title, shown, code)
        self._duplicates("filename_extension", extensions, shown, code)

    def _names(self, key: str, m: dict[str, Any], code: int, *, regexps: bool = False) -> None:
        """hidden_filenames: an Array of non-empty Strings, each a Regexp, none repeated."""
        if key not in m:
            return
        names = m[key]
        shown = f'"{key}": {to_s(names)}'
        if not (isinstance(names, list) and all(isinstance(n, str) and n != "" for n in names)):
            self._fault(f"{key} must be an Array of Strings", shown, code)
            return
        for i, name in enumerate(names):
            if regexps and not makes_regexp(name):
                self._fault(f'{key}[{i}]="{name}" cannot create Regexp', shown, code)
        self._duplicates(key, names, shown, code)

    def _integer(self, key: str, m: dict[str, Any], most: int, code: int) -> None:
        if key not in m:
            return
        value = m[key]
        if not is_integer(value):
            shown = f'"{value}"' if isinstance(value, str) else to_s(value)
            self._fault(f"{key} must be an Integer", f'"{key}": {shown}', code)
        elif not 1 <= value <= most:
            self._fault(f"{key} must be an Integer (1..{most})", f'"{key}": {value}', code)

    def _highlight_filenames(self, m: dict[str, Any], code: int) -> None:
        key = "highlight_filenames"
        if key not in m:
            return
        names = m[key]
        shown = f'"{key}": {to_s(names)}'
        if not (
            isinstance(names, list) and names and all(isinstance(n, str) and n != "" for n in names)
        ):
            self._fault(f"{key} must be an Array of Strings", shown, code)
            return
        visible = m.get("visible_filenames")
        for i, name in enumerate(names):
            if not _includes(visible, name):
                self._fault(f'{key}[{i}]="{name}" not in visible_filenames', shown, code)
        self._duplicates(key, names, shown, code)

    def _progress_regexs(self, m: dict[str, Any], code: int) -> None:
        key = "progress_regexs"
        if key not in m:
            return
        value = m[key]
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(s, str) and s != "" for s in value)
        ):
            shown = f'"{value}"' if isinstance(value, str) else to_s(value)
            self._fault(f"{key} must be an Array of 2 Strings", f'"{key}": {shown}', code)
            return
        for i, pattern in enumerate(value):
            if not makes_regexp(pattern):
                title = f'{key}[{i}]="{pattern}" cannot create Regexp'
                self._fault(title, f'"{key}": {to_s(value)}', code)

    def _rag_lambda(self, m: dict[str, Any], folder: Path, code: int) -> None:
        value = m.get("rag_lambda")
        if value is None:
            return
        if not isinstance(value, str):
            self._fault("rag_lambda is not a String", f'"rag_lambda": {to_s(value)}', code)
        elif value == "":
            self._fault("rag_lambda is an empty String", '"rag_lambda": ""', code)
        elif not os.path.exists(os.path.join(folder, value)):
            self._fault("rag_lambda file does not exist", f'"rag_lambda": "{value}"', code)

    def _name_version(self, key: str, m: dict[str, Any], code: int) -> None:
        if key not in m:
            return
        value = m[key]
        shown = f'"{key}": {to_s(value)}'
        if not isinstance(value, list):
            self._fault(f"{key} is not an Array", shown, code)
            return
        if len(value) != 2:
            self._fault(f"{key} must be an Array of 2 Strings", shown, code)
            return
        strings = True
        for i, element in enumerate(value):
            if not isinstance(element, str):
                self._fault(f"{key}[{i}] is not a String", shown, code)
                strings = False
        if strings and value[0] == "":
            self._fault(f"{key}[0]='' cannot be empty String", shown, code)

    def _duplicates(self, key: str, values: list[Any], shown: str, code: int) -> None:
        """The first value that is repeated, with every index it is at; only the first."""
        for value in values:
            at = [i for i, other in enumerate(values) if equal(other, value)]
            if len(at) > 1:
                self._fault(f'{key}{inspect(at)} are duplicates of "{to_s(value)}"', shown, code)
                return

    def _fault(self, title: str, message: str, code: int) -> None:
        self._show(title, message)
        self.codes.append(code)

    def _show(self, title: str, message: str = "") -> None:
        self.lines += [f"ERROR: {title}", f"--{self.kind} {self.url}", f"manifest='{self.file}'"]
        if message:
            self.lines += message.split("\n")


def _includes(values: Any, wanted: str) -> bool:
    """Ruby's `include?`: an Array's element, or, on a String, a substring."""
    if isinstance(values, str):
        return wanted in values
    return isinstance(values, list) and any(equal(v, wanted) for v in values)


# The image name grammar the checkers use (distribution's reference grammar, as they read it):
# a host (with `.` or `:`, or `localhost`) before the first `/`, then the path, tag and digest.
# Ruby's ^ and $ match at any line's start and end: so here too (re.M); its \w and \d are
# ASCII (re.A).
_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"^{_COMPONENT}(?:\.{_COMPONENT})*(?::[\d]+)?$", re.M | re.A)
_PATH = r"[a-z0-9]+(?:(?:[.]|[_]{1,2}|[-]+)[a-z0-9]+)*"
_REMOTE = re.compile(
    rf"^{_PATH}(?:/{_PATH})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,})?$",
    re.M | re.A,
)


def _well_formed_image_name(name: str) -> bool:
    host, slash, rest = name.partition("/")
    if not slash or ("." not in host and ":" not in host and host != "localhost"):
        host, rest = "", name
    return (not host or bool(_HOST.search(host))) and bool(_REMOTE.search(rest))
