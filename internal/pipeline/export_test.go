package pipeline_test

import "github.com/twmb/franz-go/pkg/kgo"

func kafkatestOpts(addr string) []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(addr)} }
