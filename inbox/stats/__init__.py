"""Manager statistics: what is happening right now, response times, the lead funnel and
the channel comparison, for a period in the team's time zone. Every figure follows the
definitions in ARCHITECTURE.md ("Statistics"); the views and the CSV exports only format
what these modules return."""
