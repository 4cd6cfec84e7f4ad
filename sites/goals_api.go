package sites

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"sitelog/event"
)

// goalBody is the body of a goal's PUT: one of the two fields. Unknown
// fields are refused, so that a misspelt "path" is not silently dropped.
type goalBody struct {
	Event string `json:"event_name"`
	Path  string `json:"page_path"`
}

// serveGoals serves the goals of site: sub is what follows the site's ID
// in the path, "goals" or "goals/NAME".
func (a *API) serveGoals(ctx context.Context, w http.ResponseWriter, r *http.Request, site, sub string) {
	name, one := strings.CutPrefix(sub, "goals/")
	switch {
	case sub == "goals" && r.Method == http.MethodGet:
		a.listGoals(ctx, w, r, site)
	case one && name != "" && r.Method == http.MethodPut:
		a.putGoal(ctx, w, r, site, name)
	case one && name != "" && r.Method == http.MethodDelete:
		a.removeGoal(ctx, w, r, site, name)
	default:
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	}
}

func (a *API) listGoals(ctx context.Context, w http.ResponseWriter, r *http.Request, site string) {
	if !validSite(w, site) {
		return
	}
	// Goals are not part of the registry's snapshot: read them from the
	// pool it reads through, which sees every committed write.
	goals, err := ReadGoals(ctx, a.reg.db, a.reg.dialect, site)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Goals []Goal `json:"goals"`
	}{goals})
}

func (a *API) putGoal(ctx context.Context, w http.ResponseWriter, r *http.Request, site, name string) {
	var body goalBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, apiBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		a.fail(w, r, &InvalidError{"body", `must be a JSON object {"event_name":"..."} or {"page_path":"..."}: ` + strings.TrimPrefix(err.Error(), "json: ")})
		return
	}
	store, err := a.writer()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	g, created, err := store.AddGoal(ctx, site, name, body.Event, body.Path)
	if errors.Is(err, ErrGoalExists) {
		writeError(w, http.StatusConflict, "goal "+quote(name)+" of site "+site+" exists with another definition: delete it first")
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, g)
}

func (a *API) removeGoal(ctx context.Context, w http.ResponseWriter, r *http.Request, site, name string) {
	if !validSite(w, site) {
		return
	}
	store, err := a.writer()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	err = store.RemoveGoal(ctx, site, name)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "no goal "+quote(name)+" of site "+site)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// validSite answers 400 for a site ID that no site can have, and reports
// whether it was valid.
func validSite(w http.ResponseWriter, site string) bool {
	if !event.ValidSiteID(site) {
		writeError(w, http.StatusBadRequest, (&InvalidError{"site_id", event.SiteIDRule}).Error())
		return false
	}
	return true
}
