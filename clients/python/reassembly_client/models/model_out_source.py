from enum import StrEnum


class ModelOutSource(StrEnum):
    TIMM = "timm"
    UPLOAD = "upload"

    def __str__(self) -> str:
        return str(self.value)
