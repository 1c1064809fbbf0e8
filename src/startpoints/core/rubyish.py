"""Values as cyber-dojo's Ruby checkers print and compare them: what `"#{value}"` makes of a
JSON value (`to_s`), and of one inside an Array or Hash (`inspect`); Ruby's `==`; and whether
a pattern would make a Ruby Regexp. Ruby 3.1's forms (Debian's, and cyber-dojo's checkers'):
`[1, "a", nil]`, `{"a"=>1}`, `1.0e+20`."""

from __future__ import annotations

import re
from typing import Any

_ESCAPES = {
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f",
    "\v": "\\v", "\a": "\\a", "\b": "\\b", "\x1b": "\\e",
}  # fmt: skip


def to_s(value: Any) -> str:
    """`"#{value}"`: a String as it is, nil as nothing, the rest as inspect shows it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return inspect(value)


def inspect(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return '"' + "".join(_char(c, value, i) for i, c in enumerate(value)) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{inspect(k)}=>{inspect(v)}" for k, v in value.items()) + "}"
    return str(value)


def equal(a: Any, b: Any) -> bool:
    """Ruby's `==` on JSON values: true is not 1, 1 is 1.0, Arrays and Hashes by content."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def truthy(value: Any) -> bool:
    """Ruby's: everything but nil and false."""
    return value is not None and value is not False


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Ruby (Onigmo) syntax Python's re lacks, each turned into an equivalent so re can judge the
# rest: named groups and references to them, subexpression calls, \h and \H, \z, \G, \K,
# \p{...} and POSIX brackets.
_RUBY_ONLY = [
    (re.compile(r"\(\?<(?=[A-Za-z_])"), "(?P<"),
    (re.compile(r"\\k<([A-Za-z_]\w*)>"), r"(?P=\1)"),
    (re.compile(r"\\g<[^>]*>"), ""),
    (re.compile(r"\\h"), "[0-9a-fA-F]"),
    (re.compile(r"\\H"), "[^0-9a-fA-F]"),
    (re.compile(r"\\z"), r"\\Z"),
    (re.compile(r"\\[GK]"), ""),
    (re.compile(r"\\[pP]\{\^?[A-Za-z_]+\}"), "."),
    (re.compile(r"\[:\^?[a-z]+:\]"), "a"),
]


def makes_regexp(pattern: str) -> bool:
    """Whether `Regexp.new(pattern)` would succeed, judged by Python's re once the Ruby-only
    syntax above is translated (the checkers only ask whether it compiles)."""
    translated = pattern
    for ruby, python in _RUBY_ONLY:
        translated = ruby.sub(python, translated)
    try:
        re.compile(translated)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if not e:  # below 1e-4, and past 15 whole digits unless a fraction follows: an exponent
        minus = "-" if text.startswith("-") else ""
        whole, _, fraction = text.lstrip("-").partition(".")
        significant = len((whole + fraction).lstrip("0").rstrip("0"))
        if len(whole) < 16 or significant > len(whole):
            return text if "." in text else text + ".0"
        digits = (whole[1:] + fraction).rstrip("0") or "0"
        mantissa, exponent = f"{minus}{whole[0]}.{digits}", str(len(whole) - 1)
    if "." not in mantissa:
        mantissa += ".0"
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').rjust(2, '0')}"


def _char(c: str, text: str, i: int) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c == "#" and text[i + 1 : i + 2] in ("{", "$", "@"):
        return "\\#"
    if c < " " or c == "\x7f":
        return f"\\u{ord(c):04X}" if c != "\x7f" else "\\x7F"
    return c
