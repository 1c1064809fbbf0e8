lambda { |stdout, _stderr, _status|
  return :red   if /(\d+) failed/.match(stdout)
  return :green if /(\d+) passed/.match(stdout)
  :amber
}
