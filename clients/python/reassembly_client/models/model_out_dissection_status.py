from enum import StrEnum


class ModelOutDissectionStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    NONE = "none"
    RUNNING = "running"

    def __str__(self) -> str:
        return str(self.value)
