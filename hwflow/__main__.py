from hwflow.cli import main

raise SystemExit(main())
