"""Real-looking Neuroglancer states for the tests: EM with segmentation, a time-lapse with channels
and ``t`` first, a 2-D image, and one full of keys this engine knows nothing about."""

from __future__ import annotations

EM_STATE = {
    "dimensions": {"x": [8e-09, "m"], "y": [8e-09, "m"], "z": [8e-09, "m"]},
    "position": [17213.5, 19862.5, 20697.5],
    "crossSectionScale": 1.6487212707001282,
    "crossSectionOrientation": [0.0, 0.0, 0.0, 1.0],
    "projectionOrientation": [-0.2747, 0.4118, 0.0606, 0.8669],
    "projectionScale": 13976.0,
    "layers": [
        {
            "type": "image",
            "source": "precomputed://gs://neuroglancer-janelia-flyem-hemibrain/emdata/clahe_yz/jpeg",
            "tab": "source",
            "name": "emdata",
        },
        {
            "type": "segmentation",
            "source": {
                "url": "precomputed://gs://neuroglancer-janelia-flyem-hemibrain/v1.0/segmentation",
                "subsources": {"default": True, "meshes": True},
                "enableDefaultSubsources": False,
            },
            "tab": "segments",
            "segments": ["1187448086", "5813105172"],
            "colorSeed": 2685294016,
            "name": "segmentation",
        },
        {
            "type": "annotation",
            "source": {
                "url": "local://annotations",
                "transform": {"outputDimensions": {"x": [8e-09, "m"], "y": [8e-09, "m"], "z": [8e-09, "m"]}},
            },
            "tool": "annotatePoint",
            "annotations": [
                {
                    "point": [17000.5, 19800.5, 20600.5],
                    "type": "point",
                    "id": "a1b2c3",
                    "description": "synapse?",
                }
            ],
            "name": "notes",
        },
    ],
    "showSlices": False,
    "selectedLayer": {"visible": True, "layer": "segmentation"},
    "layout": "xy-3d",
}

TIMELAPSE_STATE = {
    "dimensions": {"t": [1, "s"], "c^": [1, ""], "z": [2e-06, "m"], "y": [4e-07, "m"], "x": [4e-07, "m"]},
    "position": [12.0, 0.0, 40.5, 900.5, 1200.5],
    "crossSectionScale": 2.0,
    "projectionScale": 4096.0,
    "layers": [
        {
            "type": "image",
            "source": "zarr://https://example.org/lightsheet/embryo.zarr",
            "shader": "#uicontrol invlerp contrast(range=[100, 4000])\n"
            '#uicontrol vec3 color color(default="green")\n'
            "void main() {\n  emitRGB(color * contrast());\n}\n",
            "shaderControls": {"contrast": {"range": [150, 3800], "window": [0, 8000]}},
            "localDimensions": {"c'": [1, ""]},
            "localPosition": [0],
            "name": "nuclei",
        }
    ],
    "layout": "4panel",
}

PLANE_STATE = {
    "dimensions": {"x": [1e-06, "m"], "y": [1e-06, "m"]},
    "position": [512.0, 256.0],
    "crossSectionScale": 1.0,
    "layers": [{"type": "image", "source": "precomputed://https://example.org/slide/image", "name": "slide"}],
    "layout": "xy",
}

ODD_KEYS_STATE = {
    "zzzFirst": {"nested": {"b": 1, "a": [3, 2, 1]}},
    "dimensions": {"z": [4e-08, "m"], "y": [4e-09, "m"], "x": [4e-09, "m"]},
    "position": [100.5, 2000.5, 3000.5],
    "aaaLater": "kept in place",
    "layers": {
        "raw": {
            "type": "image",
            "source": "n5://https://example.org/raw.n5/volume",
            "futureOption": {"q": True},
        },
        "labels": {
            "type": "segmentation",
            "source": "precomputed://https://example.org/labels",
            "segments": [],
        },
    },
    "jsonStateServer": "https://state.example.org/post",
    "title": "Odd keys: 'quoted' and \"double\" and comma, underscore_here & ampersand",
    "crossSectionScale": 3.5,
}

ALL_STATES = {"em": EM_STATE, "timelapse": TIMELAPSE_STATE, "plane": PLANE_STATE, "odd_keys": ODD_KEYS_STATE}
