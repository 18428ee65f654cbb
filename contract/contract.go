// Package contract names what the harness and a service under test agree on, as
// docs/contract.md describes it: the service's dependencies and how the service itself names
// them, and the sources a served participant count can come from. The environment (chaos)
// and the behaviour matrix (matrix) both speak these names, so nothing translates between
// them.
package contract

import (
	"fmt"
	"strconv"
)

// Dependency is something the service depends on: a store, or the MAX Bot API.
type Dependency string

// The service's dependencies.
const (
	Postgres Dependency = "postgres"
	Redis    Dependency = "redis"
	MaxAPI   Dependency = "max_api"
)

// Dependencies lists every dependency in a fixed order.
func Dependencies() []Dependency { return []Dependency{Postgres, Redis, MaxAPI} }

// ServiceLabel is the dependency's name in the service's own words: the key of GET
// /health/detailed's dependencies and the dependency label of its metrics
// (dependency_up, circuit_breaker_state). Only PostgreSQL differs: "database".
func (d Dependency) ServiceLabel() string {
	if d == Postgres {
		return "database"
	}
	return string(d)
}

// ParseDependency accepts a dependency's name or its service label.
func ParseDependency(s string) (Dependency, error) {
	for _, d := range Dependencies() {
		if s == string(d) || s == d.ServiceLabel() {
			return d, nil
		}
	}
	return "", fmt.Errorf("unknown dependency %q (want postgres, redis or max_api)", s)
}

// Source is a served chat's participants_source: where its participant count came from.
type Source string

// The contract's sources.
const (
	SourceCache    Source = "cache"
	SourceAPI      Source = "api"
	SourceDatabase Source = "database"
)

// Sources lists every source.
func Sources() []Source { return []Source{SourceCache, SourceAPI, SourceDatabase} }

// The service's paths, as docs/contract.md lists them.
const (
	PathList           = "/chats/all"
	PathHealthDetailed = "/health/detailed"
	PathLivez          = "/livez"
	PathReadyz         = "/readyz"
	PathMetrics        = "/metrics"
)

// PathChat is GET /chats/{id}.
func PathChat(id int64) string { return "/chats/" + strconv.FormatInt(id, 10) }

// PathRefresh is POST /chats/{id}/participants/refresh.
func PathRefresh(id int64) string { return PathChat(id) + "/participants/refresh" }
