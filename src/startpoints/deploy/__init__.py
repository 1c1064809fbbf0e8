"""Deployment renderings: Kubernetes manifests for the catalog service and its pre-puller."""
