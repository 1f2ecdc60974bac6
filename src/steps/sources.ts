/**
 * The outside systems a step can reach, as interfaces. Each step declares the members it uses in its
 * own file (LatencySources, DbSources, ProfilingSources: factories per service, since each service has
 * its own Prometheus, pprof endpoint and database); compose.ts builds one object that satisfies them all
 * from src/sources/*. Tests hand a step fakes of just its own interface.
 */
export type Sources = object;
