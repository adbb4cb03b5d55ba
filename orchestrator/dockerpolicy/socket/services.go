package socket

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/moby/moby/api/types/swarm"

	"github.com/websoft9/stackhub/orchestrator/dockerpolicy"
	"github.com/websoft9/stackhub/porter-mixin/naming"
)

// swarmCall decides a call of the Swarm API, for a run of an installation
// placed on a Swarm node (Policy.Node): it may create, update, inspect
// and remove its own services (their specs checked by
// dockerpolicy.CheckService), list its services and their tasks, read
// the nodes, and create, list, inspect and remove its own configs
// (dockerpolicy.CheckConfig). Every other Swarm call (swarm
// init/join/leave/update, secrets, config updates, plugins) is refused, and all of them for a run that
// is not placed. handled is false for a path that is not the Swarm API's.
func (s *Server) swarmCall(r *http.Request, path string, seg []string) (out []dockerpolicy.Refusal, handled bool, err error) {
	switch seg[0] {
	case "services", "tasks", "nodes", "swarm", "secrets", "configs":
	default:
		return nil, false, nil
	}
	if s.o.Policy.Node == "" {
		return refuseCall(r, path), true, nil
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case path == "/services" && get:
		return nil, true, s.filter(r)
	case path == "/services/create" && post:
		out, err := s.createService(r, nil)
		return out, true, err
	case seg[0] == "services" && len(seg) == 2 && (get || r.Method == http.MethodDelete):
		out, err := s.ownedService(r, path, seg[1], false)
		return out, true, err
	case seg[0] == "services" && len(seg) == 3 && post && seg[2] == "update":
		if out, err := s.ownedService(r, path, seg[1], true); err != nil || len(out) > 0 {
			return out, true, err
		}
		out, err := s.createService(r, &seg[1])
		return out, true, err
	case path == "/tasks" && get:
		out, err := s.tasks(r, path)
		return out, true, err
	case path == "/nodes" && get, seg[0] == "nodes" && len(seg) == 2 && get:
		// Read-only: which node is which (the app's is in its policy).
		return nil, true, nil
	case path == "/configs" && get:
		return nil, true, s.filter(r)
	case path == "/configs/create" && post:
		out, err := s.createConfig(r)
		return out, true, err
	case seg[0] == "configs" && len(seg) == 2 && (get || r.Method == http.MethodDelete):
		out, err := s.ownedConfig(r, path, seg[1])
		return out, true, err
	}
	return refuseCall(r, path), true, nil
}

// createService checks a service create (id nil) or update body and
// labels the service and its containers with the installation.
func (s *Server) createService(r *http.Request, id *string) ([]dockerpolicy.Refusal, error) {
	call := "POST /services/create"
	if id != nil {
		call = "POST /services/{id}/update"
	}
	var spec swarm.ServiceSpec
	if err := s.readJSON(r, &spec); err != nil {
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Call: call, Detail: "the body is not a service spec: " + err.Error()}}, nil
	}
	out, err := dockerpolicy.CheckService(r.Context(), s.o.Policy, s.owners, s.owners, s.owners, call, &spec)
	if err != nil || len(out) > 0 {
		return out, err
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[naming.LabelApp] = s.o.Policy.Installation
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
		if cs.Labels == nil {
			cs.Labels = map[string]string{}
		}
		cs.Labels[naming.LabelApp] = s.o.Policy.Installation
	}
	return nil, setJSON(r, spec)
}

// ownedService refuses a call on a service that is not the
// installation's; one that does not exist goes through (Docker answers
// 404) unless mustExist.
func (s *Server) ownedService(r *http.Request, path, ref string, mustExist bool) ([]dockerpolicy.Refusal, error) {
	owner, exists, err := s.owners.serviceOwner(r.Context(), ref)
	switch {
	case err != nil:
		return nil, err
	case !exists && mustExist:
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path, Detail: fmt.Sprintf("no service %q", ref)}}, nil
	case !exists, owner == s.o.Policy.Installation:
		return nil, nil
	}
	return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path, Detail: fmt.Sprintf("service %q is not this installation's", ref)}}, nil
}

// tasks allows a task list filtered on the installation's own services
// only: tasks carry no app label to filter on.
func (s *Server) tasks(r *http.Request, path string) ([]dockerpolicy.Refusal, error) {
	var filters map[string]map[string]bool
	if raw := r.URL.Query().Get("filters"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &filters); err != nil {
			return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Detail: fmt.Sprintf("filters %q: %v", raw, err)}}, nil
		}
	}
	if len(filters["service"]) == 0 {
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path,
			Detail: "list tasks by service: a run sees the tasks of its installation's services only"}}, nil
	}
	for ref := range filters["service"] {
		owner, exists, err := s.owners.serviceOwner(r.Context(), ref)
		if err != nil {
			return nil, err
		}
		if exists && owner != s.o.Policy.Installation {
			return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path, Detail: fmt.Sprintf("service %q is not this installation's", ref)}}, nil
		}
		if !exists && !s.o.Policy.OwnName(ref) {
			// An ID of a service gone (its tasks go with it) lists
			// nothing; a name outside the installation's is refused.
			if strings.HasPrefix(ref, naming.Prefix) {
				return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path, Detail: fmt.Sprintf("service %q is not this installation's", ref)}}, nil
			}
		}
	}
	return nil, nil
}

// createConfig checks a Swarm config create body and labels the config
// with the installation.
func (s *Server) createConfig(r *http.Request) ([]dockerpolicy.Refusal, error) {
	var spec swarm.ConfigSpec
	if err := s.readJSON(r, &spec); err != nil {
		return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleEndpoint, Call: "POST /configs/create", Detail: "the body is not a config spec: " + err.Error()}}, nil
	}
	if out := dockerpolicy.CheckConfig(s.o.Policy, &spec); len(out) > 0 {
		return out, nil
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[naming.LabelApp] = s.o.Policy.Installation
	return nil, setJSON(r, spec)
}

// ownedConfig refuses a call on a config that is not the installation's;
// one that does not exist goes through (Docker answers 404).
func (s *Server) ownedConfig(r *http.Request, path, ref string) ([]dockerpolicy.Refusal, error) {
	owner, exists, err := s.owners.ConfigOwner(r.Context(), ref)
	if err != nil || !exists || owner == s.o.Policy.Installation {
		return nil, err
	}
	return []dockerpolicy.Refusal{{Rule: dockerpolicy.RuleForeign, Call: r.Method + " " + path, Detail: fmt.Sprintf("config %q is not this installation's", ref)}}, nil
}

// ConfigOwner implements dockerpolicy.ConfigOwners: the app label of
// config ref.
func (u *upstream) ConfigOwner(ctx context.Context, ref string) (string, bool, error) {
	return u.specOwner(ctx, "/configs/", ref)
}

// serviceOwner is the app label of service ref.
func (u *upstream) serviceOwner(ctx context.Context, ref string) (string, bool, error) {
	return u.specOwner(ctx, "/services/", ref)
}

// specOwner is the app label in the spec of Swarm object ref under
// collection ("/services/", "/configs/").
func (u *upstream) specOwner(ctx context.Context, collection, ref string) (string, bool, error) {
	if ref == "" {
		return "", false, nil
	}
	var obj struct {
		Spec struct{ Labels map[string]string }
	}
	ok, err := u.get(ctx, collection+url.PathEscape(ref), &obj)
	return obj.Spec.Labels[naming.LabelApp], ok, err
}

// ImagePresent implements dockerpolicy.Images: the manager's engine has
// image ref.
func (u *upstream) ImagePresent(ctx context.Context, ref string) (bool, error) {
	if ref == "" || strings.ContainsAny(ref, "?#% \t\n") {
		return false, nil // no image reference: nothing to ask
	}
	var img struct{ ID string }
	// Unescaped, as Docker's client sends it: a reference holds '/'.
	return u.get(ctx, "/images/"+ref+"/json", &img)
}
