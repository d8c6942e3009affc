# Wirewatch's scheduled batch run on Dataflow: Cloud Scheduler launches the Flex Template every
# 15 minutes. The job name is fixed, and Dataflow refuses a second active job of the same name, so a
# run that outlasts the interval makes the next launch fail instead of running twice.
#
# Elasticsearch's URL and API key live in Secret Manager. Terraform creates the two secrets but not
# their values, which would otherwise sit in the state file; add them with `gcloud secrets versions
# add` (deploy/README.md). deploy/dataflow/main.py reads the URL at launch and passes the key's
# version by name; every worker fetches the key itself.

locals {
  job_name = "wirewatch-batch"

  # Template parameters: each is a Wirewatch option declared in ../metadata.json.
  batch_parameters = {
    "feeds"           = var.feeds
    "es-index-prefix" = var.es_index_prefix
  }

  secrets = {
    url     = "wirewatch-elasticsearch-url"
    api_key = "wirewatch-elasticsearch-api-key"
  }
}

resource "google_project_service" "apis" {
  for_each           = toset(["dataflow.googleapis.com", "cloudscheduler.googleapis.com", "secretmanager.googleapis.com"])
  service            = each.value
  disable_on_destroy = false
}

resource "google_secret_manager_secret" "elasticsearch" {
  for_each  = local.secrets
  secret_id = each.value
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# The launcher and the workers run as the worker service account: the launcher reads the URL (and
# checks the key), each worker fetches the key in setup().
resource "google_secret_manager_secret_iam_member" "worker_reads" {
  for_each  = google_secret_manager_secret.elasticsearch
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.worker_service_account}"
}

# Cloud Scheduler may launch Dataflow jobs, and only as the worker service account.
resource "google_project_iam_member" "scheduler_launches" {
  project = var.project
  role    = "roles/dataflow.developer"
  member  = "serviceAccount:${var.scheduler_service_account}"
}

resource "google_service_account_iam_member" "scheduler_acts_as_worker" {
  service_account_id = "projects/${var.project}/serviceAccounts/${var.worker_service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.scheduler_service_account}"
}

resource "google_cloud_scheduler_job" "wirewatch_batch" {
  name             = "wirewatch-batch"
  description      = "Wirewatch: fetch the feed catalog once and index what is new (Dataflow Flex Template)"
  region           = var.region
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = "320s"

  # The next tick is the retry: a failed launch is not repeated within the same interval.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "https://dataflow.googleapis.com/v1b3/projects/${var.project}/locations/${var.region}/flexTemplates:launch"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({
      launchParameter = {
        jobName              = local.job_name
        containerSpecGcsPath = var.template_spec
        parameters           = local.batch_parameters
        environment = {
          serviceAccountEmail = var.worker_service_account
          tempLocation        = var.temp_location
          sdkContainerImage   = var.image
          maxWorkers          = var.max_workers
        }
      }
    }))

    oauth_token {
      service_account_email = var.scheduler_service_account
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.scheduler_launches,
    google_service_account_iam_member.scheduler_acts_as_worker,
  ]
}

output "scheduler_job" {
  description = "Run it now with: gcloud scheduler jobs run NAME --location REGION"
  value       = google_cloud_scheduler_job.wirewatch_batch.name
}

output "secrets" {
  description = "Secret ids to add versions to (the Elasticsearch URL and API key)."
  value       = [for secret in google_secret_manager_secret.elasticsearch : secret.secret_id]
}
