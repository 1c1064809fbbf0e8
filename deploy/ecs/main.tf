# languages-start-points on cyber-dojo's ECS node, in the shape of its services' Terraform
# (terraform-base-infra's ecs-service module: an image by sha7 and digest, a port, a memory
# limit, host folders). The containers are task-definition.json's, with the image, memory,
# port, host folders, the Docker socket's group and the credentials secret set from the
# variables below; `terraform plan` shows the rendered definition.

variable "image" {
  description = "the catalog image, <ecr>/languages-start-points:<sha7>@sha256:..."
  type        = string
}

variable "port" {
  description = "the catalog service's port (cyber-dojo's languages-start-points: 4524)"
  type        = number
  default     = 4524
}

variable "memory" {
  description = "MiB per container (cyber-dojo gives each service 128)"
  type        = number
  default     = 128
}

variable "host_tmp" {
  description = "the host folder mounted at the service's /tmp, as cyber-dojo mounts one"
  type        = string
  default     = "/ebs_data/cyber-dojo/languages_start_points"
}

variable "node_state" {
  description = "the host folder for the puller's marker and the node's record (outlives tasks)"
  type        = string
  default     = "/ebs_data/cyber-dojo/startpoints_node"
}

variable "docker_gid" {
  description = "the group id of the node's /var/run/docker.sock (stat -c %g)"
  type        = number
}

variable "credentials_secret_arn" {
  description = "a Secrets Manager secret holding ghcr.io=USER:TOKEN (read:packages)"
  type        = string
}

variable "execution_role_arn" {
  description = "the task execution role, allowed to read the credentials secret"
  type        = string
}

variable "cluster_id" {
  description = "the ECS cluster of the environment's one EC2 node"
  type        = string
}

locals {
  template = jsondecode(file("${path.module}/task-definition.json"))
  web      = local.template.containerDefinitions[0]
  puller   = local.template.containerDefinitions[1]
  containers = [
    merge(local.web, {
      image        = var.image
      memory       = var.memory
      command      = ["serve", "/startpoints/catalog", "--port", tostring(var.port), "--pull", "none"]
      environment  = [{ name = "PORT", value = tostring(var.port) }]
      portMappings = [{ containerPort = var.port, hostPort = var.port, protocol = "tcp" }]
    }),
    merge(local.puller, {
      image   = var.image
      memory  = var.memory
      user    = "10001:${var.docker_gid}"
      secrets = [{ name = "STARTPOINTS_CREDENTIALS", valueFrom = var.credentials_secret_arn }]
    }),
  ]
}

resource "aws_ecs_task_definition" "languages_start_points" {
  family                   = local.template.family
  network_mode             = local.template.networkMode
  requires_compatibilities = local.template.requiresCompatibilities
  execution_role_arn       = var.execution_role_arn
  container_definitions    = jsonencode(local.containers)

  volume {
    name      = "tmp"
    host_path = var.host_tmp
  }
  volume {
    name      = "docker-socket"
    host_path = "/var/run/docker.sock"
  }
  volume {
    name      = "node-state"
    host_path = var.node_state
  }
}

resource "aws_ecs_service" "languages_start_points" {
  name            = "languages-start-points"
  cluster         = var.cluster_id
  task_definition = aws_ecs_task_definition.languages_start_points.arn
  desired_count   = 1
  launch_type     = "EC2"
  # one node, one host port: the old task stops before the new one starts
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  wait_for_steady_state              = true
}
