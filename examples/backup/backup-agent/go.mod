module example.com/backup-agent

go 1.23

require (
	github.com/minio/minio-go/v7 v7.0.77
	k8s.io/client-go v0.31.1
)
