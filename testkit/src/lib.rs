//! testkit: starts real servers (Redis, Redis Cluster, PostgreSQL) on free loopback ports for tests.
