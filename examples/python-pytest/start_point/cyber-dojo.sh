#!/bin/bash
set -e
pytest --quiet --tb=short .
