from integreat.cli import main

main()
