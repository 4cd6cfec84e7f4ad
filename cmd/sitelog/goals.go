package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

const goalsUsage = `usage: sitelog goals <command> [flags]

  sitelog goals add --site ID (--event NAME | --path PATTERN) [--name NAME]
        add a goal: a custom event by name, or page views of the paths that
        PATTERN matches ('*' matches any run of characters: /blog/*); NAME
        defaults to the event's name or "Visit PATTERN"
  sitelog goals list [--site ID] [--json]
  sitelog goals remove --site ID --name NAME

A goal's completions count (as the query API's goal dimension and its
conversion_rate) from the moment it is added; sitelog rebuild counts the
past. Changes reach a running server within a second. Every command takes
--data-dir [SITELOG_DATA_DIR, default ./data], or --db [SITELOG_DB] for the
goals of a PostgreSQL store.
`

// runGoals is the goals command.
func runGoals(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runAdmin(ctx, "goals", goalsUsage, map[string]adminSub{
		"add": goalsAdd, "list": goalsList, "remove": goalsRemove,
	}, args, getenv, stdout, stderr)
}

func goalsAdd(ctx context.Context, c *adminCmd, args []string) int {
	var site, eventName, pattern, name string
	c.fs.StringVar(&site, "site", "", "the site whose goal it is")
	c.fs.StringVar(&eventName, "event", "", "the custom event that completes the goal")
	c.fs.StringVar(&pattern, "path", "", "the page path pattern whose page views complete the goal ('*' matches any run of characters)")
	c.fs.StringVar(&name, "name", "", `the goal's name (default: the event's name, or "Visit PATTERN")`)
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	if site == "" || (eventName == "") == (pattern == "") {
		fmt.Fprintf(c.stderr, "sitelog %s: give --site ID and either --event NAME or --path PATTERN\n", c.name)
		return 2
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	g, created, err := store.AddGoal(ctx, site, name, eventName, pattern)
	if err != nil {
		return c.failed(err)
	}
	if created {
		fmt.Fprintf(c.stdout, "added goal %q of site %s: %s\n", g.Name, g.Site, g.Definition())
	} else {
		fmt.Fprintf(c.stdout, "goal %q of site %s exists already: %s\n", g.Name, g.Site, g.Definition())
	}
	return 0
}

func goalsList(ctx context.Context, c *adminCmd, args []string) int {
	var site string
	var asJSON bool
	c.fs.StringVar(&site, "site", "", "list only this site's goals")
	c.fs.BoolVar(&asJSON, "json", false, "print a JSON array")
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	goals, err := store.Goals(ctx, site)
	if err != nil {
		return c.failed(err)
	}
	if asJSON {
		return c.printJSON(goals)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tNAME\tGOAL\tCREATED")
	for _, g := range goals {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Site, g.Name, g.Definition(), g.Created.Format(time.RFC3339))
	}
	return c.flush(tw)
}

func goalsRemove(ctx context.Context, c *adminCmd, args []string) int {
	var site, name string
	c.fs.StringVar(&site, "site", "", "the site whose goal it is")
	c.fs.StringVar(&name, "name", "", "the goal's name, as sitelog goals list shows it")
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	if site == "" || name == "" {
		fmt.Fprintf(c.stderr, "sitelog %s: give --site ID and --name NAME\n", c.name)
		return 2
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	if err := store.RemoveGoal(ctx, site, name); err != nil {
		return c.failed(err)
	}
	fmt.Fprintf(c.stdout, "removed goal %q of site %s (what it counted stays)\n", name, site)
	return 0
}
