"""The Kubernetes CRI ImageService over gRPC (containerd, CRI-O): what a node's kubelet pulls
through; and, where the runtime is containerd, its own images service on the same socket, for
the two things the CRI cannot do: tag an image and pin it. The only module that imports grpc;
its errors leave as StoreError."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import field_mask_pb2

from startpoints.errors import NotFound, StoreError
from startpoints.oci.cri_api import containerd_images_pb2 as images_api
from startpoints.oci.cri_api import containerd_images_pb2_grpc as images_rpc
from startpoints.oci.cri_api import cri_image_service_pb2 as api
from startpoints.oci.cri_api import cri_image_service_pb2_grpc as rpc

# The namespace the CRI plugin keeps a node's images in, and the labels it reads: an image
# it manages, and one the kubelet's image GC must leave (containerd 1.7 reports it as
# Image.pinned; the label is what a runtime of any version keeps).
NAMESPACE = (("containerd-namespace", "k8s.io"),)
MANAGED = {"io.cri-containerd.image": "managed"}
PINNED = "io.cri-containerd.pinned"


class Unsupported(StoreError):
    """The runtime has no containerd images service (CRI-O): no tags, no pins through it."""


class Cri:
    def __init__(self, endpoint: str, *, timeout: float = 1800) -> None:
        """`endpoint`: unix:///run/containerd/containerd.sock (or any gRPC target)."""
        self.endpoint = endpoint
        self._timeout = timeout
        self._channel = grpc.insecure_channel(endpoint)
        self._images = rpc.ImageServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._runtime = rpc.RuntimeServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._records = images_rpc.ImagesStub(self._channel)  # type: ignore[no-untyped-call]

    def status(self, image: str) -> tuple[str, list[str], list[str]] | None:
        """(id, tags, digested names) of the image `image` names, or None."""
        try:
            status = self._images.ImageStatus(
                api.ImageStatusRequest(image=api.ImageSpec(image=image)), timeout=30
            )
        except grpc.RpcError as error:
            raise StoreError(f"{self.endpoint}: ImageStatus {image}: {_why(error)}") from None
        found = status.image
        return (found.id, list(found.repo_tags), list(found.repo_digests)) if found.id else None

    def labels(self, name: str) -> dict[str, str] | None:
        """The labels of containerd's image record `name`, or None where there is none."""
        record = self._record(name)
        return dict(record.labels) if record is not None else None

    def tag(self, name: str, source: str) -> None:
        """Point the image record `name` at what `source` (a digested name) holds, creating or
        moving it, as `ctr images tag --force` does."""
        found = self._record(source)
        if found is None:
            raise NotFound(f"{self.endpoint}: tagging {name}: no image {source}")
        existing = self._record(name)
        if existing is not None:
            image = images_api.Image(name=name, target=found.target)
            self._call(
                "Update",
                name,
                images_api.UpdateImageRequest(image=image, update_mask=_mask("target")),
            )
        else:
            image = images_api.Image(name=name, labels=MANAGED, target=found.target)
            self._call("Create", name, images_api.CreateImageRequest(image=image))

    def pin(self, names: Sequence[str], pinned: bool) -> None:
        """Set (or clear) the pinned label on each image record of `names`."""
        for name in names:
            labels = {PINNED: "pinned"} if pinned else {}
            request = images_api.UpdateImageRequest(
                image=images_api.Image(name=name, labels=labels),
                update_mask=_mask(f"labels.{PINNED}"),
            )
            self._call("Update", name, request)

    def _record(self, name: str) -> images_api.Image | None:
        try:
            return self._call("Get", name, images_api.GetImageRequest(name=name)).image
        except NotFound:
            return None

    def _call(self, method: str, name: str, request: object) -> images_api.GetImageResponse:
        try:
            return getattr(self._records, method)(request, timeout=30, metadata=NAMESPACE)  # type: ignore[no-any-return]
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None
            doing = f"{self.endpoint}: images.{method} {name}: {_why(error)}"
            if code == grpc.StatusCode.NOT_FOUND:
                raise NotFound(doing) from None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise Unsupported(doing) from None
            raise StoreError(doing) from None

    def pull(self, image: str, credentials: tuple[str, str] | None = None) -> str:
        auth = (
            api.AuthConfig(username=credentials[0], password=credentials[1])
            if credentials
            else None
        )
        try:
            pulled = self._images.PullImage(
                api.PullImageRequest(image=api.ImageSpec(image=image), auth=auth),
                timeout=self._timeout,
            )
        except grpc.RpcError as error:
            why = _why(error)
            # containerd answers UNKNOWN "... failed to resolve reference ...: not found"
            missing = error.code() == grpc.StatusCode.NOT_FOUND or why.endswith(": not found")
            raise (NotFound if missing else StoreError)(
                f"{self.endpoint}: PullImage {image}: {why}"
            ) from None
        return str(pulled.image_ref)

    def listed(self) -> list[tuple[str, list[str], list[str], int]]:
        """Every image: (id, tags, digested names, size on the node)."""
        try:
            listed = self._images.ListImages(api.ListImagesRequest(), timeout=30)
        except grpc.RpcError as error:
            raise StoreError(f"{self.endpoint}: ListImages: {_why(error)}") from None
        return [
            (image.id, list(image.repo_tags), list(image.repo_digests), int(image.size))
            for image in listed.images
        ]

    def in_use(self) -> set[str]:
        """What containers use, every way the CRI names it (image id, digested ref, spec)."""
        try:
            listed = self._runtime.ListContainers(api.ListContainersRequest(), timeout=30)
        except grpc.RpcError as error:
            raise StoreError(f"{self.endpoint}: ListContainers: {_why(error)}") from None
        used = set()
        for container in listed.containers:
            used.update({container.image_id, container.image_ref, container.image.image})
        return used - {""}

    def remove(self, image: str) -> None:
        try:
            self._images.RemoveImage(
                api.RemoveImageRequest(image=api.ImageSpec(image=image)), timeout=60
            )
        except grpc.RpcError as error:
            raise StoreError(f"{self.endpoint}: RemoveImage {image}: {_why(error)}") from None

    def close(self) -> None:
        self._channel.close()


def _mask(path: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=[path])


def _why(error: grpc.RpcError) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    return f"{code.name if code else 'error'}: {details}"
