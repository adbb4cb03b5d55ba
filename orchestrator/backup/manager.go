package backup

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/websoft9/stackhub/orchestrator"
)

// Manager implements orchestrator.BackupRepositories: the configured
// repositories (in Configs, secrets sealed), each opened once and kept
// open.
type Manager struct {
	Configs orchestrator.RepositoryConfigs
	// StateDir holds kopia's per-repository state (private to StackHub).
	StateDir string
	Logger   *slog.Logger

	mu   sync.Mutex
	open map[string]*Repository
}

var _ orchestrator.BackupRepositories = (*Manager)(nil)

func (m *Manager) options(c orchestrator.RepositoryConfig) Options {
	return Options{ID: c.ID, Password: c.Password, StateDir: filepath.Join(m.StateDir, c.ID), Logger: m.Logger,
		Location: Location{Kind: c.Kind, Path: c.Path, Endpoint: c.Endpoint, Bucket: c.Bucket, Prefix: c.Prefix, Region: c.Region,
			AccessKey: c.AccessKey, SecretKey: c.SecretKey, Insecure: c.Insecure}}
}

// Store implements orchestrator.BackupRepositories.
func (m *Manager) Store(ctx context.Context, id string) (orchestrator.BackupStore, string, error) {
	c, err := m.Configs.RepositoryConfig(ctx, id)
	if err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.open[c.ID]; ok {
		return r, c.ID, nil
	}
	r, err := Open(ctx, m.options(c))
	if err != nil {
		return nil, "", err
	}
	if m.open == nil {
		m.open = map[string]*Repository{}
	}
	m.open[c.ID] = r
	return r, c.ID, nil
}

// AddRepository implements orchestrator.BackupRepositories.
func (m *Manager) AddRepository(ctx context.Context, c orchestrator.RepositoryConfig, create bool) (orchestrator.RepositoryConfig, error) {
	o := m.options(c)
	if err := o.check(); err != nil {
		return orchestrator.RepositoryConfig{}, err
	}
	if _, err := m.Configs.RepositoryConfig(ctx, c.ID); err == nil {
		return orchestrator.RepositoryConfig{}, orchestrator.Errorf(orchestrator.ECONFLICT, "a repository named %s exists", c.ID)
	}
	if create {
		if err := Create(ctx, o); err != nil {
			return orchestrator.RepositoryConfig{}, err
		}
	}
	// Open it: a wrong password or an empty location is said now.
	r, err := Open(ctx, o)
	if err != nil {
		return orchestrator.RepositoryConfig{}, err
	}
	if err := m.Configs.AddRepositoryConfig(ctx, c); err != nil {
		return orchestrator.RepositoryConfig{}, errors.Join(err, r.Close(ctx))
	}
	m.mu.Lock()
	if m.open == nil {
		m.open = map[string]*Repository{}
	}
	m.open[c.ID] = r
	m.mu.Unlock()
	return m.Configs.RepositoryConfig(ctx, c.ID)
}

// Repositories implements orchestrator.BackupRepositories.
func (m *Manager) Repositories(ctx context.Context) ([]orchestrator.RepositoryConfig, error) {
	return m.Configs.RepositoryConfigs(ctx)
}

// RemoveRepository implements orchestrator.BackupRepositories.
func (m *Manager) RemoveRepository(ctx context.Context, id string) error {
	if err := m.Configs.RemoveRepositoryConfig(ctx, id); err != nil {
		return err
	}
	m.mu.Lock()
	r, ok := m.open[id]
	delete(m.open, id)
	m.mu.Unlock()
	var err error
	if ok {
		err = r.Close(ctx)
	}
	if idForm.MatchString(id) {
		err = errors.Join(err, os.RemoveAll(filepath.Join(m.StateDir, id)))
	}
	return err
}

// Close closes every open repository.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for id, r := range m.open {
		errs = append(errs, r.Close(ctx))
		delete(m.open, id)
	}
	return errors.Join(errs...)
}
