from enum import StrEnum


class AssemblyCreateProxy(StrEnum):
    LOGME = "logme"
    NASWOT = "naswot"

    def __str__(self) -> str:
        return str(self.value)
