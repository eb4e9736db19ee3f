from enum import StrEnum


class PartitionCreateMethod(StrEnum):
    DP = "dp"
    LOCAL = "local"

    def __str__(self) -> str:
        return str(self.value)
