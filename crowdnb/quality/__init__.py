"""Quality control: agreement metrics, control tasks and worker skills, rules, dynamic overlap."""
