"""Entry point: serve Neurodeck with ``pn.serve`` (works the same in a frozen build).

    python run.py --port 5006 --address 127.0.0.1 --no-show --workspace DIR \
        --allow-websocket-origin HOST[:PORT] --allow-private-urls --num-threads N --num-procs N \
        [--workers N | --dask tcp://scheduler:8786]
    python run.py worker --workspace DIR        # job workers on any machine that sees DIR
    python run.py queue --source URL|FOLDER|FILE_OF_URLS|DANDISET_ID --workspace DIR
    python run.py curate --analyzer DIR --out DIR [--judge metrics|vlm] [--preset NAME] [--workers N]
    python run.py train --config FILE [--resume RUN_DIR] | --data NWB --steps N --out RUN_DIR
    python run.py evaluate RUN_DIR
    python run.py --prefix /neurodeck --use-xheaders   # behind a reverse proxy, under a path
    python run.py passwd USER                       # add a user for --auth password

``python run.py --help`` lists every flag and sub-command; ``pip install .`` gives the same
command as ``neurodeck`` (``app/cli.py``).
"""

import multiprocessing

from app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # child processes of a frozen build (cancellable jobs) start here
    main()
