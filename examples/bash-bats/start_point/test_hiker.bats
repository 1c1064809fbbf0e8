#!/usr/bin/env bats

load hiker

@test "life, the universe and everything" {
  run answer
  [ "$output" = "42" ]
}
