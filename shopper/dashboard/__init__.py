"""The owners' overview: scores and promises over time, recurring findings, open actions, and exports."""
