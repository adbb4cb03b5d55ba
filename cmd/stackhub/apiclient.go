package main

import apiclient "github.com/websoft9/stackhub/web/client"

// The CLI speaks to a server through the typed client of web/client; these
// names keep the commands short.
type (
	Client            = apiclient.Client
	APIError          = apiclient.APIError
	UnreachableError  = apiclient.UnreachableError
	Installing        = apiclient.Installing
	LogsOptions       = apiclient.LogsOptions
	App               = apiclient.App
	Job               = apiclient.Job
	JobEvent          = apiclient.JobEvent
	CatalogApp        = apiclient.CatalogApp
	CatalogSummary    = apiclient.CatalogSummary
	CatalogQuery      = apiclient.CatalogQuery
	ServerStatus      = apiclient.ServerStatus
	Token             = apiclient.Token
	Uninstalled       = apiclient.Uninstalled
	Grant             = apiclient.Grant
	AppPermissions    = apiclient.AppPermissions
	RepositoryRequest = apiclient.RepositoryRequest
	DomainRequest     = apiclient.DomainRequest
	Retention         = apiclient.Retention
	BackupPolicy      = apiclient.BackupPolicy
	Backup            = apiclient.Backup
	UpgradePlan       = apiclient.UpgradePlan
)

// NewClient returns a client for the server at baseURL with token.
func NewClient(baseURL, token string) *Client { return apiclient.NewClient(baseURL, token) }

// Job statuses.
const (
	JobRunning   = apiclient.JobRunning
	JobSucceeded = apiclient.JobSucceeded
	JobFailed    = apiclient.JobFailed
	JobCanceled  = apiclient.JobCanceled
)
