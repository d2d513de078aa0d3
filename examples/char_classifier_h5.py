"""The char-level classifier: saved to .h5, reloaded, probed, shown as HTML.

Part 1 trains the demo's classifier (a GRU whose named `AdditiveAttention`,
queried by the final state, averages the characters' embeddings), saves it as
`.h5`, reloads it with `keras_attnviz.load_model`, probes it, and writes the
attention as coloured character spans and as a styled DataFrame.

Part 2 is the hand-made recipe many tutorials use: `TimeDistributed(Dense(1,
tanh))` -> `Flatten` -> `Activation("softmax", name="attention_vec")` ->
`RepeatVector` -> `Permute` -> `multiply` -> sum over time. The probe reads its
weights by the layer's name. Its tanh-bounded scores make the softmax flat and
let the characters after the cue (whose GRU states carry it) tie with the cue,
so its peak finds the cue less often than the demo classifier's does.

Run: python examples/char_classifier_h5.py --out DIR
"""

import os

import keras
import numpy as np
from example_args import parse_example_args

import keras_attnviz
from keras_attnviz.cli.demo import LAYER_NAME, MAXLEN, build_classifier
from keras_attnviz.datasets import cue_sentences
from keras_attnviz.render import html_report, styler


def build_recipe(vocab_size, units=32):
    ids = keras.Input((MAXLEN,), dtype="int32")
    chars = keras.layers.Embedding(vocab_size, units)(ids)
    states = keras.layers.GRU(units, return_sequences=True)(chars)
    features = keras.layers.Concatenate()([chars, states])
    scores = keras.layers.TimeDistributed(
        keras.layers.Dense(1, activation="tanh")
    )(features)
    weights = keras.layers.Activation("softmax", name="attention_vec")(
        keras.layers.Flatten()(scores)
    )
    weights = keras.layers.RepeatVector(2 * units)(weights)
    weights = keras.layers.Permute([2, 1])(weights)
    weighted = keras.layers.multiply([features, weights])
    context = keras.layers.Lambda(lambda x: keras.ops.sum(x, axis=1))(weighted)
    return keras.Model(ids, keras.layers.Dense(1, activation="sigmoid")(context))


def peak_on_cue_rate(maps, data):
    hits = [span[0] <= int(np.argmax(amap.weights)) < span[1]
            for amap, span in zip(maps, data.cue_spans, strict=True) if span]
    return float(np.mean(hits))


def main(argv=None):
    args = parse_example_args(__doc__, argv)

    train = cue_sentences(1500 if args.quick else 3000, seed=0)
    test = cue_sentences(200, seed=1)
    vocab = keras_attnviz.Vocabulary.from_texts(train.texts + test.texts)
    x_train = vocab.encode(train.texts, maxlen=MAXLEN, padding="pre")
    x_test = vocab.encode(test.texts, maxlen=MAXLEN, padding="pre")
    epochs = 5 if args.quick else 4

    # Part 1: our layer, through an .h5 file.
    model = build_classifier(len(vocab))
    model.compile("adam", "binary_crossentropy")
    model.fit(x_train, train.labels, epochs=epochs, batch_size=64, verbose=0)
    path = os.path.join(args.out, "char_classifier.h5")
    model.save(path)
    reloaded = keras_attnviz.load_model(path)
    result = keras_attnviz.AttentionProbe(reloaded, layers=[LAYER_NAME]).predict(
        x_test, verbose=0
    )
    maps = [result.sample(i, LAYER_NAME, tokens=list(text))
            for i, text in enumerate(test.texts)]
    spans_path = os.path.join(args.out, "char_spans.html")
    html_report(
        maps[:20],
        predictions=np.asarray(result.outputs)[:20, 0],
        labels=test.labels[:20],
        level="char",
    ).save(spans_path)
    table_path = os.path.join(args.out, "char_table.html")
    first_positive = maps[int(np.flatnonzero(test.labels)[0])]
    with open(table_path, "w", encoding="utf-8") as file:
        file.write(styler(first_positive, width=30).to_html(doctype_html=True))

    # Part 2: the hand-made recipe, probed by the name of its softmax layer.
    recipe = build_recipe(len(vocab))
    recipe.compile("adam", "binary_crossentropy")
    recipe.fit(x_train, train.labels, epochs=epochs, batch_size=64, verbose=0)
    recipe_result = keras_attnviz.AttentionProbe(
        recipe, layers=["attention_vec"]
    ).predict(x_test, verbose=0)
    recipe_maps = [
        recipe_result.sample(i, "attention_vec", tokens=list(text), padding="pre")
        for i, text in enumerate(test.texts)
    ]
    # The probe's weights are those of the recipe's own sub-model, by hand.
    by_hand = keras.Model(recipe.inputs, recipe.get_layer("attention_vec").output)
    recipe_gap = np.abs(
        recipe_result.attention["attention_vec"] - by_hand.predict(x_test, verbose=0)
    ).max()
    recipe_path = os.path.join(args.out, "recipe_spans.html")
    html_report(recipe_maps[:20], labels=test.labels[:20], level="char").save(
        recipe_path
    )
    return {
        "peak_on_cue": peak_on_cue_rate(maps, test),
        "recipe_peak_on_cue": peak_on_cue_rate(recipe_maps, test),
        "recipe_max_difference_to_hand_made": float(recipe_gap),
        "pictures": [spans_path, table_path, recipe_path],
    }


if __name__ == "__main__":
    print(main())
