"""The files a run folder holds (names fixed: other commands and MLflow models find them by name)."""

RATE_MODEL_FILE = "rate_model.pt"
CONVERTED_MODEL_FILE = "converted_model.pt"  # rate model + chosen factor + spiking parameters
FINETUNED_MODEL_FILE = "finetuned_model.pt"  # spikernn-run's fine-tuned network (finetune.enabled)
MAT_FILE = "rate_model.mat"
SUMMARY_FILE = "summary.json"
