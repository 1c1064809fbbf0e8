"""The Kubernetes CRI ImageService over gRPC (containerd, CRI-O): what a node's kubelet pulls
through. The only module that imports grpc; its errors leave as StoreError."""

from __future__ import annotations

import grpc

from startpoints.errors import NotFound, StoreError
from startpoints.oci.cri_api import cri_image_service_pb2 as api
from startpoints.oci.cri_api import cri_image_service_pb2_grpc as rpc


class Cri:
    def __init__(self, endpoint: str, *, timeout: float = 1800) -> None:
        """`endpoint`: unix:///run/containerd/containerd.sock (or any gRPC target)."""
        self.endpoint = endpoint
        self._timeout = timeout
        self._channel = grpc.insecure_channel(endpoint)
        self._images = rpc.ImageServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._runtime = rpc.RuntimeServiceStub(self._channel)  # type: ignore[no-untyped-call]

    def present(self, image: str) -> bool:
        try:
            status = self._images.ImageStatus(
                api.ImageStatusRequest(image=api.ImageSpec(image=image)), timeout=30
            )
        except grpc.RpcError as error:
            raise StoreError(f"{self.endpoint}: ImageStatus {image}: {_why(error)}") from None
        return bool(status.image.id)

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

    def listed(self) -> list[tuple[str, list[str], int]]:
        """Every image: (id, tags, size on the node)."""
        try:
            listed = self._images.ListImages(api.ListImagesRequest(), timeout=30)
        except grpc.RpcError as error:
            raise StoreError(f"{self.endpoint}: ListImages: {_why(error)}") from None
        return [(image.id, list(image.repo_tags), int(image.size)) for image in listed.images]

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


def _why(error: grpc.RpcError) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    return f"{code.name if code else 'error'}: {details}"
