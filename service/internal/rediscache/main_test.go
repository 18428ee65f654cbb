package rediscache

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/faultline/faultline/service/internal/testdb"
)

// server is the Redis every test in this package uses; each test gets its own logical
// database on it. Tests do not run in parallel.
var server *testdb.Redis

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	server, err = testdb.StartRedis(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "redis integration tests need a Redis server:", err)
		return 1
	}
	defer func() {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test redis:", err)
		}
	}()
	return m.Run()
}
