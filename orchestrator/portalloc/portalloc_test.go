package portalloc

import (
	"errors"
	"testing"
)

func TestAssign(t *testing.T) {
	tests := []struct {
		name  string
		reqs  []Request
		taken Taken
		want  []int
		err   string
	}{
		{
			name: "lowest free",
			reqs: []Request{{"port", 9001, 9999}, {"db_port", 3307, 3399}},
			want: []int{9001, 3307},
		},
		{
			name:  "skips reserved and busy",
			reqs:  []Request{{"port", 9001, 9999}},
			taken: Taken{Reserved: map[int]string{9001: "ghost"}, Busy: map[int]bool{9002: true}},
			want:  []int{9003},
		},
		{
			name: "two params sharing a range get different ports",
			reqs: []Request{{"port", 9001, 9002}, {"admin_port", 9001, 9002}},
			want: []int{9001, 9002},
		},
		{
			name:  "exhausted range says why",
			reqs:  []Request{{"port", 9001, 9003}},
			taken: Taken{Reserved: map[int]string{9001: "a", 9002: "b"}, Busy: map[int]bool{9003: true}},
			err:   "no free port for port in 9001-9003 (2 reserved by installed apps, 1 in use on the host)",
		},
		{
			name: "invalid range",
			reqs: []Request{{"port", 10, 5}},
			err:  "port port: invalid range 10-5",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Assign(tc.reqs, tc.taken)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestAssignRangeErrorType(t *testing.T) {
	_, err := Assign([]Request{{"port", 1, 1}}, Taken{Busy: map[int]bool{1: true}})
	var re *RangeError
	if !errors.As(err, &re) || re.HostBusy != 1 {
		t.Fatalf("got %v, want *RangeError with HostBusy=1", err)
	}
}
