package portermixin

import (
	"bytes"
	"testing"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/stretchr/testify/assert"
)

func TestProgress(t *testing.T) {
	var out bytes.Buffer
	p := &progress{out: &out}
	const img = "Image stackhub-test/web:dev"
	p.On(api.Resource{ID: img, Status: api.Working, Text: api.StatusPulling})
	p.On(api.Resource{ID: "l1", ParentID: img, Status: api.Working, Text: "Pulling fs layer"})
	p.On(api.Resource{ID: "l1", ParentID: img, Status: api.Working, Text: "Downloading", Current: 50, Total: 100, Percent: 50})
	p.On(api.Resource{ID: "l2", ParentID: img, Status: api.Working, Text: "Downloading", Current: 100, Total: 300, Percent: 33})
	p.On(api.Resource{ID: "l2", ParentID: img, Status: api.Working, Text: "Downloading", Current: 101, Total: 300, Percent: 33}) // same whole percent: quiet
	p.On(api.Resource{ID: "l1", ParentID: img, Status: api.Done, Text: "Download complete", Percent: 100})
	p.On(api.Resource{ID: "l2", ParentID: img, Status: api.Done, Text: "Pull complete", Percent: 100})
	p.On(api.Resource{ID: img, Status: api.Done, Text: api.StatusPulled})
	p.On(api.Resource{ID: "Network websoft9-demo_default", Status: api.Working, Text: api.StatusCreating})
	p.On(api.Resource{ID: "Network websoft9-demo_default", Status: api.Working, Text: api.StatusCreating}) // repeated: quiet
	p.On(api.Resource{ID: "Container websoft9-demo", Status: api.Done, Text: "Recreated"})
	p.On(api.Resource{ID: "Container websoft9-demo", Status: api.Working, Text: api.StatusWaiting})
	p.On(api.Resource{ID: "Container websoft9-demo", Status: api.Done, Text: api.StatusHealthy})
	p.On(api.Resource{ID: "Container websoft9-demo-db", Status: api.Warning, Text: "Skipped: no change"})
	p.On(api.Resource{ID: "Container websoft9-demo-db", Status: api.Error, Text: api.StatusError, Details: "exited (1)"})
	p.On(api.Resource{ID: "Volume websoft9-demo_data", Status: api.Done, Text: api.StatusRemoved})
	p.On(api.Resource{ID: "Container websoft9-demo", Status: api.Done, Text: api.StatusStopped})

	assert.Equal(t, `websoft9: Image stackhub-test/web:dev Pulling
::websoft9-event::{"stage":"pulling","image":"stackhub-test/web:dev"}
::websoft9-event::{"stage":"pulling","image":"stackhub-test/web:dev","current":50,"total":100}
::websoft9-event::{"stage":"pulling","image":"stackhub-test/web:dev","current":150,"total":400}
::websoft9-event::{"stage":"pulling","image":"stackhub-test/web:dev","current":201,"total":400}
::websoft9-event::{"stage":"pulling","image":"stackhub-test/web:dev","current":400,"total":400}
websoft9: Image stackhub-test/web:dev Pulled
::websoft9-event::{"stage":"pulled","image":"stackhub-test/web:dev"}
websoft9: Network websoft9-demo_default Creating
::websoft9-event::{"stage":"creating","resource":"Network websoft9-demo_default","status":"Creating"}
websoft9: Container websoft9-demo Recreated
::websoft9-event::{"stage":"creating","resource":"Container websoft9-demo","status":"Recreated"}
websoft9: Container websoft9-demo Waiting
::websoft9-event::{"stage":"waiting","resource":"Container websoft9-demo","status":"Waiting"}
websoft9: Container websoft9-demo Healthy
::websoft9-event::{"stage":"waiting","resource":"Container websoft9-demo","status":"Healthy"}
websoft9: Container websoft9-demo-db Skipped: no change
websoft9: Container websoft9-demo-db Error exited (1)
::websoft9-event::{"stage":"failed","resource":"Container websoft9-demo-db","status":"Error","message":"exited (1)"}
websoft9: Volume websoft9-demo_data Removed
::websoft9-event::{"stage":"removing","resource":"Volume websoft9-demo_data","status":"Removed"}
websoft9: Container websoft9-demo Stopped
::websoft9-event::{"stage":"stopping","resource":"Container websoft9-demo","status":"Stopped"}
`, out.String())
}
