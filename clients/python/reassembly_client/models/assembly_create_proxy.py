from enum import StrEnum


class AssemblyCreateProxy(StrEnum):
    LOGME = "logme"
    NASWOT = "naswot"
    VALIDATION = "validation"

    def __str__(self) -> str:
        return str(self.value)
