module aegis-testbed

go 1.19
