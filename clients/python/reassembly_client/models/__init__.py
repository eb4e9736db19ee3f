"""Contains all the data models used in inputs/outputs"""

from .assembly_create import AssemblyCreate
from .assembly_create_proxy import AssemblyCreateProxy
from .assembly_out import AssemblyOut
from .assembly_out_baseline_type_0 import AssemblyOutBaselineType0
from .assembly_out_candidates_item import AssemblyOutCandidatesItem
from .assembly_out_chosen_type_0 import AssemblyOutChosenType0
from .assembly_out_config import AssemblyOutConfig
from .assembly_out_error_type_0 import AssemblyOutErrorType0
from .assembly_out_pool_item import AssemblyOutPoolItem
from .assembly_out_recommendation_type_0 import AssemblyOutRecommendationType0
from .assembly_out_status import AssemblyOutStatus
from .assembly_out_target_type_0 import AssemblyOutTargetType0
from .assembly_out_zoo_models_item import AssemblyOutZooModelsItem
from .block_out import BlockOut
from .body_create_dataset import BodyCreateDataset
from .body_upload_model import BodyUploadModel
from .canary_in import CanaryIn
from .component_create import ComponentCreate
from .component_out import ComponentOut
from .component_out_config import ComponentOutConfig
from .component_out_error_type_0 import ComponentOutErrorType0
from .component_out_result_type_0 import ComponentOutResultType0
from .component_out_status import ComponentOutStatus
from .composition_create import CompositionCreate
from .composition_out import CompositionOut
from .composition_out_config import CompositionOutConfig
from .composition_out_error_type_0 import CompositionOutErrorType0
from .composition_out_result_type_0 import CompositionOutResultType0
from .composition_out_status import CompositionOutStatus
from .constraints import Constraints
from .dataset_out import DatasetOut
from .error_body import ErrorBody
from .error_body_details import ErrorBodyDetails
from .error_out import ErrorOut
from .health_out import HealthOut
from .health_out_checks import HealthOutChecks
from .job_out import JobOut
from .job_out_error_details_type_0 import JobOutErrorDetailsType0
from .job_out_result_type_0 import JobOutResultType0
from .job_out_status import JobOutStatus
from .list_jobs_status_type_0 import ListJobsStatusType0
from .model_create import ModelCreate
from .model_create_model_kwargs import ModelCreateModelKwargs
from .model_out import ModelOut
from .model_out_dissection_status import ModelOutDissectionStatus
from .model_out_metrics import ModelOutMetrics
from .model_out_model_kwargs import ModelOutModelKwargs
from .model_out_source import ModelOutSource
from .model_out_status import ModelOutStatus
from .node_out import NodeOut
from .node_out_in_kind import NodeOutInKind
from .node_out_kind import NodeOutKind
from .nodes_out import NodesOut
from .nodes_out_head import NodesOutHead
from .nodes_out_stem import NodesOutStem
from .page_dataset_out import PageDatasetOut
from .page_job_out import PageJobOut
from .page_model_out import PageModelOut
from .partition_add_model import PartitionAddModel
from .partition_create import PartitionCreate
from .partition_create_method import PartitionCreateMethod
from .partition_create_size_measure import PartitionCreateSizeMeasure
from .partition_out import PartitionOut
from .partition_out_config import PartitionOutConfig
from .partition_out_error_type_0 import PartitionOutErrorType0
from .partition_out_status import PartitionOutStatus
from .set_out import SetOut
from .thresholds_in import ThresholdsIn
from .timm_source import TimmSource
from .training import Training
from .training_mode import TrainingMode

__all__ = (
    "AssemblyCreate",
    "AssemblyCreateProxy",
    "AssemblyOut",
    "AssemblyOutBaselineType0",
    "AssemblyOutCandidatesItem",
    "AssemblyOutChosenType0",
    "AssemblyOutConfig",
    "AssemblyOutErrorType0",
    "AssemblyOutPoolItem",
    "AssemblyOutRecommendationType0",
    "AssemblyOutStatus",
    "AssemblyOutTargetType0",
    "AssemblyOutZooModelsItem",
    "BlockOut",
    "BodyCreateDataset",
    "BodyUploadModel",
    "CanaryIn",
    "ComponentCreate",
    "ComponentOut",
    "ComponentOutConfig",
    "ComponentOutErrorType0",
    "ComponentOutResultType0",
    "ComponentOutStatus",
    "CompositionCreate",
    "CompositionOut",
    "CompositionOutConfig",
    "CompositionOutErrorType0",
    "CompositionOutResultType0",
    "CompositionOutStatus",
    "Constraints",
    "DatasetOut",
    "ErrorBody",
    "ErrorBodyDetails",
    "ErrorOut",
    "HealthOut",
    "HealthOutChecks",
    "JobOut",
    "JobOutErrorDetailsType0",
    "JobOutResultType0",
    "JobOutStatus",
    "ListJobsStatusType0",
    "ModelCreate",
    "ModelCreateModelKwargs",
    "ModelOut",
    "ModelOutDissectionStatus",
    "ModelOutMetrics",
    "ModelOutModelKwargs",
    "ModelOutSource",
    "ModelOutStatus",
    "NodeOut",
    "NodeOutInKind",
    "NodeOutKind",
    "NodesOut",
    "NodesOutHead",
    "NodesOutStem",
    "PageDatasetOut",
    "PageJobOut",
    "PageModelOut",
    "PartitionAddModel",
    "PartitionCreate",
    "PartitionCreateMethod",
    "PartitionCreateSizeMeasure",
    "PartitionOut",
    "PartitionOutConfig",
    "PartitionOutErrorType0",
    "PartitionOutStatus",
    "SetOut",
    "ThresholdsIn",
    "TimmSource",
    "Training",
    "TrainingMode",
)
