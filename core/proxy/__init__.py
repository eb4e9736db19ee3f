"""Training-free proxies: NASWOT (activation-code kernel) and LogME (feature transferability)."""

from core.proxy.batches import sample_batches
from core.proxy.features import pooled_features
from core.proxy.logme import logme
from core.proxy.naswot import ACTIVATION_TYPES, activation_kernel, activation_modules, naswot
from core.proxy.report import CandidateScores, score_candidate
from core.proxy.types import ProxyScore

__all__ = [
    "ACTIVATION_TYPES",
    "CandidateScores",
    "ProxyScore",
    "activation_kernel",
    "activation_modules",
    "logme",
    "naswot",
    "pooled_features",
    "sample_batches",
    "score_candidate",
]
