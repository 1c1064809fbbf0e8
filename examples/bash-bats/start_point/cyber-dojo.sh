#!/bin/bash
bats ./*.bats
