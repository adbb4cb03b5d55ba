package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/websoft9/stackhub/orchestrator"
	"github.com/websoft9/stackhub/web/wire"
)

// BackupService takes, lists, restores and checks backups, and manages
// the repositories they live in.
type BackupService interface {
	StartBackup(ctx context.Context, req orchestrator.BackupRequest) (orchestrator.Run, error)
	StartRestore(ctx context.Context, req orchestrator.RestoreRequest) (orchestrator.Installation, orchestrator.Run, error)
	BackupsOf(ctx context.Context, repository, installation string) ([]orchestrator.Backup, error)
	VerifyBackup(ctx context.Context, repository, id string) (orchestrator.VerifyResult, error)
	DeleteBackup(ctx context.Context, repository, id string) error
	PruneBackups(ctx context.Context, repository, installation string, keep orchestrator.Retention) ([]string, error)
	Repositories(ctx context.Context) ([]orchestrator.RepositoryConfig, error)
	AddRepository(ctx context.Context, c orchestrator.RepositoryConfig, create bool) (orchestrator.RepositoryConfig, error)
	RemoveRepository(ctx context.Context, id string) error
}

func (s *Server) registerBackupRoutes(g *echo.Group) {
	g.GET("/repositories", s.listRepositories)
	g.POST("/repositories", s.addRepository)
	g.DELETE("/repositories/:id", s.removeRepository)
	g.POST("/apps/:name/backups", s.backUpApp)
	g.GET("/apps/:name/backups", s.appBackups)
	g.GET("/backups", s.allBackups)
	g.POST("/backups/prune", s.pruneBackups)
	g.POST("/backups/:id/restore", s.restoreBackup)
	g.POST("/backups/:id/verify", s.verifyBackup)
	g.DELETE("/backups/:id", s.deleteBackup)
}

func toBackup(b orchestrator.Backup) wire.Backup {
	return wire.Backup{ID: b.ID, Installation: b.Installation, App: b.App, Version: b.Version, Digest: b.Digest, Created: b.Created,
		Size: b.Size, Files: b.Files, Quiesce: b.Quiesce}
}

func toBackups(list []orchestrator.Backup) []wire.Backup {
	out := make([]wire.Backup, 0, len(list))
	for _, b := range list {
		out = append(out, toBackup(b))
	}
	return out
}

func toRepository(c orchestrator.RepositoryConfig) wire.Repository {
	return wire.Repository{ID: c.ID, Kind: c.Kind, Where: c.Where(), Path: c.Path, Endpoint: c.Endpoint, Bucket: c.Bucket, Prefix: c.Prefix,
		Region: c.Region, AccessKey: c.AccessKey, Insecure: c.Insecure, Default: c.Default, Created: c.Created}
}

func (s *Server) listRepositories(c echo.Context) error {
	list, err := s.Backups.Repositories(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]wire.Repository, 0, len(list))
	for _, r := range list {
		out = append(out, toRepository(r))
	}
	return c.JSON(http.StatusOK, out)
}

// addRepository serves POST /api/v1/repositories (201 with the repository,
// its secrets never echoed).
func (s *Server) addRepository(c echo.Context) error {
	var body wire.RepositoryRequest
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	// Creating a repository derives its key; an S3 bucket may be slow.
	extendDeadlines(c, 5*time.Minute)
	r, err := s.Backups.AddRepository(c.Request().Context(), orchestrator.RepositoryConfig{ID: body.ID, Kind: body.Kind, Path: body.Path,
		Endpoint: body.Endpoint, Bucket: body.Bucket, Prefix: body.Prefix, Region: body.Region, AccessKey: body.AccessKey,
		SecretKey: body.SecretKey, Insecure: body.Insecure, Password: body.Password, Default: body.Default}, body.Create)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toRepository(r))
}

func (s *Server) removeRepository(c echo.Context) error {
	if err := s.Backups.RemoveRepository(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// repositoryBody names the repository a backup call uses ("": default).
type repositoryBody struct {
	Repository string `json:"repository"`
}

// backUpApp serves POST /api/v1/apps/{name}/backups: 202 with the job; its
// output "backup" names the backup.
func (s *Server) backUpApp(c echo.Context) error {
	var body repositoryBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	r, err := s.Backups.StartBackup(c.Request().Context(), orchestrator.BackupRequest{Name: c.Param("name"), Repository: body.Repository})
	if err != nil {
		return err
	}
	return accepted(c, r)
}

func (s *Server) appBackups(c echo.Context) error {
	list, err := s.Backups.BackupsOf(c.Request().Context(), c.QueryParam("repository"), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBackups(list))
}

func (s *Server) allBackups(c echo.Context) error {
	list, err := s.Backups.BackupsOf(c.Request().Context(), c.QueryParam("repository"), "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBackups(list))
}

// restoreBody is POST /backups/{id}/restore's: name "" restores in place.
type restoreBody struct {
	Repository string `json:"repository"`
	Name       string `json:"name"`
	// Node places a restore into a name not installed on a Swarm node.
	Node string `json:"node"`
}

// restoreBackup serves POST /api/v1/backups/{id}/restore: 202 with the
// installation and its job.
func (s *Server) restoreBackup(c echo.Context) error {
	var body restoreBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	extendDeadlines(c, 5*time.Minute) // a bundle saved in the backup may have to be read first
	inst, run, err := s.Backups.StartRestore(c.Request().Context(), orchestrator.RestoreRequest{Backup: c.Param("id"),
		Repository: body.Repository, Name: body.Name, Node: body.Node})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/jobs/"+run.ID)
	return c.JSON(http.StatusAccepted, map[string]any{"app": toAppInfo(inst), "job": toJob(run)})
}

// verifyBackup serves POST /api/v1/backups/{id}/verify ("all" verifies
// every backup): every byte read back.
func (s *Server) verifyBackup(c echo.Context) error {
	var body repositoryBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	extendDeadlines(c, time.Hour)
	id := c.Param("id")
	if id == "all" {
		id = ""
	}
	res, err := s.Backups.VerifyBackup(c.Request().Context(), body.Repository, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.VerifyResult{Backups: res.Backups, Bytes: res.Bytes, Files: res.Files, Errors: nonNil(res.Errors)})
}

func (s *Server) deleteBackup(c echo.Context) error {
	if err := s.Backups.DeleteBackup(c.Request().Context(), c.QueryParam("repository"), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// pruneBody is POST /backups/prune's.
type pruneBody struct {
	Repository string         `json:"repository"`
	App        string         `json:"app"`
	Keep       wire.Retention `json:"keep"`
}

func (s *Server) pruneBackups(c echo.Context) error {
	var body pruneBody
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	if body.App == "" {
		return orchestrator.Errorf(orchestrator.EINVALID, "app is required: prune applies to one app's backups")
	}
	extendDeadlines(c, time.Hour)
	gone, err := s.Backups.PruneBackups(c.Request().Context(), body.Repository, body.App,
		orchestrator.Retention{Last: body.Keep.Last, Daily: body.Keep.Daily, Weekly: body.Keep.Weekly, Monthly: body.Keep.Monthly})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"removed": nonNil(gone)})
}

// extendDeadlines lets a long call (a verify, a repository's creation)
// outlive the server's read and write timeouts.
func extendDeadlines(c echo.Context, d time.Duration) {
	rc := http.NewResponseController(c.Response().Writer)
	_ = rc.SetReadDeadline(time.Now().Add(d))
	_ = rc.SetWriteDeadline(time.Now().Add(d))
}

// PolicyService reads and sets backup policies.
type PolicyService interface {
	BackupPolicyOf(ctx context.Context, name string) (orchestrator.EffectivePolicy, error)
	SetBackupPolicy(ctx context.Context, p orchestrator.BackupPolicy) (orchestrator.EffectivePolicy, error)
	ClearBackupPolicy(ctx context.Context, name string) error
}

func (s *Server) registerPolicyRoutes(g *echo.Group) {
	g.GET("/apps/:name/backup-policy", s.getPolicy)
	g.PUT("/apps/:name/backup-policy", s.putPolicy)
	g.DELETE("/apps/:name/backup-policy", s.clearPolicy)
	g.GET("/backup-policy", s.getPolicy)
	g.PUT("/backup-policy", s.putPolicy)
}

func toPolicy(p orchestrator.EffectivePolicy) wire.BackupPolicy {
	out := wire.BackupPolicy{Schedule: p.Schedule, Repository: p.Repository, Inherited: p.Inherited,
		Keep: wire.Retention{Last: p.Keep.Last, Daily: p.Keep.Daily, Weekly: p.Keep.Weekly, Monthly: p.Keep.Monthly}}
	if !p.Next.IsZero() {
		next := p.Next
		out.Next = &next
	}
	return out
}

// getPolicy serves GET /api/v1/apps/{name}/backup-policy (the policy the
// app follows) and GET /api/v1/backup-policy (the default).
func (s *Server) getPolicy(c echo.Context) error {
	p, err := s.Policies.BackupPolicyOf(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicy(p))
}

func (s *Server) putPolicy(c echo.Context) error {
	var body wire.BackupPolicy
	if err := decodeStrict(c, &body); err != nil {
		return err
	}
	p, err := s.Policies.SetBackupPolicy(c.Request().Context(), orchestrator.BackupPolicy{Installation: c.Param("name"),
		Schedule: body.Schedule, Repository: body.Repository,
		Keep: orchestrator.Retention{Last: body.Keep.Last, Daily: body.Keep.Daily, Weekly: body.Keep.Weekly, Monthly: body.Keep.Monthly}})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicy(p))
}

func (s *Server) clearPolicy(c echo.Context) error {
	if err := s.Policies.ClearBackupPolicy(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
