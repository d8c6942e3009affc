variable "project" {
  description = "Google Cloud project that runs the Dataflow jobs and holds the secrets."
  type        = string
}

variable "region" {
  description = "Region of the Dataflow jobs and of the Cloud Scheduler job, e.g. europe-west1."
  type        = string
}

variable "template_spec" {
  description = "The Flex Template spec written by `gcloud dataflow flex-template build`, e.g. gs://BUCKET/templates/wirewatch.json."
  type        = string
  validation {
    condition     = startswith(var.template_spec, "gs://")
    error_message = "template_spec is a gs:// path."
  }
}

variable "image" {
  description = "The Wirewatch image (deploy/docker/Dockerfile) in Artifact Registry: it runs the Dataflow workers too."
  type        = string
}

variable "temp_location" {
  description = "gs:// folder for Dataflow's temporary and staged files."
  type        = string
  validation {
    condition     = startswith(var.temp_location, "gs://")
    error_message = "temp_location is a gs:// path."
  }
}

variable "worker_service_account" {
  description = "E-mail of the service account the launcher and the workers run as (roles/dataflow.worker, and access to temp_location)."
  type        = string
}

variable "scheduler_service_account" {
  description = "E-mail of the service account Cloud Scheduler calls the Dataflow API as."
  type        = string
}

variable "schedule" {
  description = "When the batch job runs (cron syntax, in time_zone)."
  type        = string
  default     = "*/15 * * * *"
}

variable "time_zone" {
  description = "Time zone of the schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "feeds" {
  description = "Feed catalog inside the image."
  type        = string
  default     = "/opt/wirewatch/seeds/feeds.yaml"
}

variable "es_index_prefix" {
  description = "Prefix of the Elasticsearch aliases and templates."
  type        = string
  default     = "wirewatch"
}

variable "max_workers" {
  description = "Upper bound of Dataflow workers for one batch run."
  type        = number
  default     = 2
}
