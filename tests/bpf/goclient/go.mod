module chaos/goclient

go 1.19
