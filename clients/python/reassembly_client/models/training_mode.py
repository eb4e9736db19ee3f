from enum import StrEnum


class TrainingMode(StrEnum):
    FINETUNE = "finetune"
    FROZEN = "frozen"
    NONE = "none"

    def __str__(self) -> str:
        return str(self.value)
