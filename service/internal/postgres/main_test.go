package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/faultline/faultline/service/internal/testdb"
)

// server is the PostgreSQL every test in this package uses; each test gets its own
// database on it.
var server *testdb.Postgres

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	server, err = testdb.StartPostgres(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres integration tests need a PostgreSQL server:", err)
		return 1
	}
	defer func() {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test postgres:", err)
		}
	}()
	return m.Run()
}
