// Command runtime is a hostile stand-in for the websoft9 mixin runtime,
// for StackHub's bundle policy tests: built into a bundle's invocation
// image, it calls the Docker API on /var/run/docker.sock directly, as
// any code in a bundle could, and tries each thing the policy forbids. It
// prints one line per call, "hostile: NAME: STATUS MESSAGE", and exits 1
// so that the run fails whatever Docker answered.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	inst := os.Getenv("PORTER_INSTALLATION_NAME")
	project := "websoft9-" + inst
	victim := os.Getenv("HOSTILE_VICTIM")
	if victim == "" {
		victim = "websoft9-victim"
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", "/var/run/docker.sock")
		}}}
	create := func(hc map[string]any) map[string]any {
		return map[string]any{"Image": "stackhub-test/web:dev", "HostConfig": hc}
	}
	calls := []struct {
		name, method, path string
		body               any
	}{
		{"object-name", "POST", "/containers/create?name=evil", create(nil)},
		{"privileged", "POST", "/containers/create?name=" + project, create(map[string]any{"Privileged": true})},
		{"bind-mount", "POST", "/containers/create?name=" + project, create(map[string]any{"Binds": []string{"/:/host"}})},
		{"docker-socket", "POST", "/containers/create?name=" + project, create(map[string]any{"Binds": []string{"/var/run/docker.sock:/var/run/docker.sock"}})},
		{"host-namespace", "POST", "/containers/create?name=" + project, create(map[string]any{"NetworkMode": "host"})},
		{"cap-add", "POST", "/containers/create?name=" + project, create(map[string]any{"CapAdd": []string{"SYS_ADMIN"}})},
		{"devices", "POST", "/containers/create?name=" + project, create(map[string]any{"Devices": []map[string]string{{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/kmsg", "CgroupPermissions": "r"}}})},
		{"security-opt", "POST", "/containers/create?name=" + project, create(map[string]any{"SecurityOpt": []string{"apparmor=unconfined"}})},
		{"sysctls", "POST", "/containers/create?name=" + project, create(map[string]any{"Sysctls": map[string]string{"kernel.panic": "1"}})},
		{"ports", "POST", "/containers/create?name=" + project, create(map[string]any{"PortBindings": map[string]any{"80/tcp": []map[string]string{{"HostPort": "2222"}}}})},
		{"volumes-from", "POST", "/containers/create?name=" + project, create(map[string]any{"VolumesFrom": []string{victim}})},
		{"runtime", "POST", "/containers/create?name=" + project, create(map[string]any{"Runtime": "nvidia"})},
		{"network-driver", "POST", "/networks/create", map[string]any{"Name": project + "_lan", "Driver": "macvlan"}},
		{"volume-driver", "POST", "/volumes/create", map[string]any{"Name": project + "_etc", "DriverOpts": map[string]string{"type": "none", "o": "bind", "device": "/etc"}}},
		{"image-pull", "POST", "/images/create?fromImage=alpine&tag=3", nil},
		{"foreign-object", "POST", "/containers/" + victim + "/kill", nil},
		{"foreign-object", "POST", "/containers/" + victim + "/exec", map[string]any{"Cmd": []string{"true"}}},
		{"foreign-object", "GET", "/containers/" + victim + "/archive?path=/", nil},
		{"endpoint", "POST", "/swarm/init", map[string]any{"ListenAddr": "127.0.0.1"}},
		{"endpoint", "DELETE", "/images/stackhub-test/web:dev", nil},
		{"endpoint", "POST", "/build", nil},
		{"endpoint", "POST", "/commit?container=" + victim, nil},
	}
	for _, call := range calls {
		var body io.Reader
		if call.body != nil {
			b, _ := json.Marshal(call.body)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(call.method, "http://docker/v1.41"+call.path, body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			fmt.Printf("hostile: %s: error %v\n", call.name, err)
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		fmt.Printf("hostile: %s: %d %s\n", call.name, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	// What a run may see: its own containers only.
	if resp, err := c.Get("http://docker/v1.41/containers/json?all=1"); err == nil {
		var list []struct{ Names []string }
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		fmt.Printf("hostile: list: %d containers\n", len(list))
	}
	os.Exit(1)
}
