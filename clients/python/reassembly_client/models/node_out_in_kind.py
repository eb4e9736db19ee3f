from enum import StrEnum


class NodeOutInKind(StrEnum):
    MAP_NCHW = "map_nchw"
    MAP_NHWC = "map_nhwc"
    TOKENS = "tokens"

    def __str__(self) -> str:
        return str(self.value)
