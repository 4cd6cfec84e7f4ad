package sites

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"sitelog/event"
)

// Limits of a goal.
const (
	// MaxGoalEvent is the longest event name of a goal, in bytes: the
	// longest event_type ingest takes.
	MaxGoalEvent = 64
	// MaxGoalPath is the longest page path pattern of a goal, in bytes.
	MaxGoalPath = 1024
	// MaxGoalName is the longest goal name, in bytes: room for the default
	// name of the longest path pattern.
	MaxGoalName = len(goalPathPrefix) + MaxGoalPath
)

// goalPathPrefix starts the default name of a page goal.
const goalPathPrefix = "Visit "

// ErrGoalExists is a goal whose name the site has already given to another
// goal.
var ErrGoalExists = errors.New("goal name taken")

// Goal is a conversion the rollups count, under dim "goal" with the goal's
// name as value, from the time it is added: a custom event by name, or page
// views whose path matches a pattern in which "*" matches any run of
// characters ("/blog/*", "/signup/*/done").
type Goal struct {
	ID    int64  `json:"id"`
	Site  string `json:"site_id"`
	Name  string `json:"name"`
	Event string `json:"event_name,omitempty"` // exactly one of Event and Path is set
	Path  string `json:"page_path,omitempty"`
	// Created is when the goal was added: its completions count from then.
	Created time.Time `json:"created"`
}

// NewGoal validates a goal of site: exactly one of eventName (1 to
// MaxGoalEvent bytes of printable characters, as ingest takes event types)
// and pathPattern (starting with "/", at most MaxGoalPath bytes of UTF-8
// without control characters or spaces, "*" the only wildcard). The name
// defaults to the event name, or to "Visit " and the pattern.
func NewGoal(site, name, eventName, pathPattern string) (Goal, error) {
	if !event.ValidSiteID(site) {
		return Goal{}, &InvalidError{"site_id", event.SiteIDRule}
	}
	g := Goal{Site: site, Name: name, Event: eventName, Path: pathPattern}
	switch {
	case (eventName == "") == (pathPattern == ""):
		return Goal{}, &InvalidError{"goal", "give either an event name or a page path pattern"}
	case eventName != "":
		if len(eventName) > MaxGoalEvent || !printable(eventName) {
			return Goal{}, &InvalidError{"event_name", "must be 1-" + strconv.Itoa(MaxGoalEvent) + " bytes of printable characters"}
		}
		if g.Name == "" {
			g.Name = eventName
		}
	default:
		if !strings.HasPrefix(pathPattern, "/") || len(pathPattern) > MaxGoalPath ||
			!utf8.ValidString(pathPattern) || strings.ContainsFunc(pathPattern, unicode.IsSpace) || hasControl(pathPattern) {
			return Goal{}, &InvalidError{"page_path", "must start with / and be at most " + strconv.Itoa(MaxGoalPath) +
				" bytes of UTF-8 without spaces or control characters; * matches any run of characters"}
		}
		if g.Name == "" {
			g.Name = goalPathPrefix + pathPattern
		}
	}
	if len(g.Name) > MaxGoalName || !printable(g.Name) || strings.TrimSpace(g.Name) != g.Name {
		return Goal{}, &InvalidError{"name", "must be 1-" + strconv.Itoa(MaxGoalName) +
			" bytes of printable characters, without leading or trailing spaces"}
	}
	return g, nil
}

// AddGoal adds a goal after validating it as NewGoal does. A goal of the
// same name and definition is answered as it is, created false; one of the
// same name and another definition is ErrGoalExists, as redefining a goal
// would mix two definitions' counts under one name.
func (s *Store) AddGoal(ctx context.Context, site, name, eventName, pathPattern string) (g Goal, created bool, err error) {
	g, err = NewGoal(site, name, eventName, pathPattern)
	if err != nil {
		return Goal{}, false, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		old, err := scanGoal(tx.QueryRowContext(ctx, s.d.goalByName, g.Site, g.Name))
		switch {
		case err == nil && old.Event == g.Event && old.Path == g.Path:
			g = old
			return nil
		case err == nil:
			return fmt.Errorf("%w: site %s has a goal named %q already (%s); remove it first", ErrGoalExists, g.Site, g.Name, old.Definition())
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		g.Created = s.now().UTC().Truncate(time.Second)
		created = true
		return tx.QueryRowContext(ctx, s.d.insertGoal, g.Site, g.Name, g.Event, g.Path, g.Created.Unix()).Scan(&g.ID)
	})
	if err != nil {
		return Goal{}, false, fmt.Errorf("sites: add goal %q: %w", g.Name, err)
	}
	return g, created, nil
}

// RemoveGoal removes the goal of site named name; ErrNotFound if there is
// none. What it counted stays in the rollups.
func (s *Store) RemoveGoal(ctx context.Context, site, name string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return exactlyOne(tx.ExecContext(ctx, s.d.deleteGoal, site, name))
	})
	if err != nil {
		return fmt.Errorf("sites: remove goal %q of site %s: %w", name, site, err)
	}
	return nil
}

// Goals returns the goals of site, or of every site when site is "",
// ordered by site and name.
func (s *Store) Goals(ctx context.Context, site string) ([]Goal, error) {
	return ReadGoals(ctx, s.db, s.dialect, site)
}

// ReadGoals reads the goals of site, or of every site when site is "",
// from db (a read-only pool will do), a database of dialect d, ordered by
// site and name.
func ReadGoals(ctx context.Context, db *sql.DB, d Dialect, site string) ([]Goal, error) {
	rows, err := db.QueryContext(ctx, d.sql().goals, site)
	if err != nil {
		return nil, fmt.Errorf("sites: read goals: %w", err)
	}
	defer rows.Close()
	goals := []Goal{}
	for rows.Next() {
		g, err := scanGoal(rows)
		if err != nil {
			return nil, fmt.Errorf("sites: read goals: %w", err)
		}
		goals = append(goals, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sites: read goals: %w", err)
	}
	return goals, nil
}

// Definition says what the goal counts, for listings and messages:
// `event signup` or `page /blog/*`.
func (g Goal) Definition() string {
	if g.Event != "" {
		return "event " + g.Event
	}
	return "page " + g.Path
}

func scanGoal(row interface{ Scan(...any) error }) (Goal, error) {
	var g Goal
	var created int64
	if err := row.Scan(&g.ID, &g.Site, &g.Name, &g.Event, &g.Path, &created); err != nil {
		return Goal{}, err
	}
	g.Created = time.Unix(created, 0).UTC()
	return g, nil
}

// printable reports whether s is valid UTF-8 of printable characters (the
// ASCII space included), as ingest's rule for event types says.
func printable(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) })
}
