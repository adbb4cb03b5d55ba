package web

import "github.com/websoft9/stackhub/web/wire"

// The wire shapes, under the names the handlers use.
type (
	appInfo       = wire.App
	uninstallData = wire.Uninstalled
	job           = wire.Job
	jobEvent      = wire.JobEvent
	catalogApp    = wire.CatalogApp
	catalogPort   = wire.CatalogPort
	catalogLogin  = wire.CatalogLogin
	appSecrets    = wire.Credentials
	serverData    = wire.ServerStatus
	riskDTO       = wire.Risk
	sampleDTO     = wire.Sample
	tokenDTO      = wire.Token
	apiError      = wire.Error

	permissionDTO     = wire.Permission
	grantDTO          = wire.Grant
	appPermissionsDTO = wire.AppPermissions
	grantBody         = wire.GrantRequest

	userDTO    = wire.User
	userChange = wire.UserChange
	inviteDTO  = wire.Invite
)
