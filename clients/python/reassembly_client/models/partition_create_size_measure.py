from enum import StrEnum


class PartitionCreateSizeMeasure(StrEnum):
    FLOPS = "flops"
    NODES = "nodes"
    PARAMS = "params"

    def __str__(self) -> str:
        return str(self.value)
