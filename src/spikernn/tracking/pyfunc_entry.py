"""MLflow's "models from code" entry of spikernn's pyfunc models (see ``tracking/models.py``):
MLflow copies this file into the logged model and runs it on loading, so no pickle is involved."""

from mlflow.models import set_model

from spikernn.tracking.models import NetworkModel

set_model(NetworkModel())
