from enum import StrEnum


class AssemblyOutRecommendationType0(StrEnum):
    REASSEMBLY = "reassembly"
    ZOO_MODEL = "zoo_model"

    def __str__(self) -> str:
        return str(self.value)
