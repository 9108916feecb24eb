"""Running a whole Switchboard stack on one machine: settings, ejabberd, component processes."""
